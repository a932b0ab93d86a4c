// An ES module written for pymport: it imports pymport's API.
import { pyval, pymport, PyObject } from 'pymport';
import { toTypedArray } from 'pymport/array';
import pymportDefault from 'pymport';

export const answer = pyval('6 * 7').toJS();
export const sqrt = pymport('math').get('sqrt').call(49).toJS();
export const isPyObject = pyval('1') instanceof PyObject;
export const sameApi = pymportDefault.pyval === pyval;
export const typed = Array.from(toTypedArray(pyval('__import__("array").array("i", [1, 2])')));
import { pymport as proxifiedPymport, PyObject as ProxifiedPyObject } from 'pymport/proxified';

// named exports of pymport/proxified; a proxy is an instance of both PyObjects
const math = proxifiedPymport('math');
export const proxified = [+math.floor(2.5), math instanceof ProxifiedPyObject, math instanceof PyObject];
