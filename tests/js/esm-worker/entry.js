// A worker_thread entry that is an ES module because its package says so.
import { parentPort } from 'worker_threads';
import { pyval } from 'pymport';

parentPort.postMessage(pyval('"module " + str(2 ** 5)').toJS());
