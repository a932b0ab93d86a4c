// import ... from 'pymport' (ESM): the same API as require('pymport').
import { createRequire } from 'module';

const api = createRequire(import.meta.url)('./pymport.js');

export const { pymport, pyval, proxify, PyObject, version, share, fromShared } = api;
export default api;
