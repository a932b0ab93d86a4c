import { parentPort } from 'worker_threads';
import { pymport } from 'pymport';
import { getPythonType } from 'pymport/array';

parentPort.postMessage([pymport('math').get('factorial').call(5).toJS(), getPythonType(new Int16Array(1))]);
