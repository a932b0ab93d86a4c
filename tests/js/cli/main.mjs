import { pyval, pymport } from 'pymport';
import { basename } from 'node:path';

await new Promise((resolve) => setTimeout(resolve, 20));
const sqrt = pymport('math').get('sqrt').call(81).toJS();
console.log(`${basename(process.argv[1])} ${sqrt} ${pyval('"py"').toJS()} ${process.argv.slice(2).join(',')}`);
