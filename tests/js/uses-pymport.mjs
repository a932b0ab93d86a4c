// An ES module written for pymport: it imports pymport's API.
import { pyval, pymport, PyObject } from 'pymport';
import { toTypedArray } from 'pymport/array';
import pymportDefault from 'pymport';

export const answer = pyval('6 * 7').toJS();
export const sqrt = pymport('math').get('sqrt').call(49).toJS();
export const isPyObject = pyval('1') instanceof PyObject;
export const sameApi = pymportDefault.pyval === pyval;
export const typed = Array.from(toTypedArray(pyval('__import__("array").array("i", [1, 2])')));
