// import ... from 'pymport/proxified' (ESM).
import { createRequire } from 'module';

const api = createRequire(import.meta.url)('./proxified.js');

export const { pymport, pyval, proxify, PyObject, version } = api;
export default api;
