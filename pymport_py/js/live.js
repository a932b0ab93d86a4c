'use strict';
// Live containers (pymport_py.live(), docs/conversions.md#live-containers): a
// Python list or dict that JavaScript uses with plain JS syntax, without a
// copy. Each is a Proxy over an Array (for a list) or a plain object (for a
// dict). Its handler holds an External of the Python object, which every trap
// passes to C (csrc/live.c): one call each, which reads or writes the Python
// object itself, nothing cached. What is not the Python object's (methods,
// symbols) resolves on the target, whose prototype is one of the two made
// here: Array.prototype with the list methods below, or Object.prototype.
// JavaScript sees Array.prototype or Object.prototype as the prototype (the
// getPrototypeOf trap).

const util = require('util');

// binding: the linked binding; done: the helper that c.listAt returns past the
// end. Returns live(target, ext), the maker that csrc/live.c calls with a new
// target (an Array or a plain object) and the External of the Python object.
module.exports = function liveContainers(binding, done) {
  const c = binding.liveFunctions(); // csrc/live.c's, for this module only
  const lists = new WeakMap(); // the Proxy of a live list -> its External
  const dicts = new WeakMap(); // and of a live dict
  const generic = Array.prototype;

  // ToIntegerOrInfinity, as the Array methods read their index arguments.
  function toInteger(x) {
    const n = +x;
    return n !== n ? 0 : Math.trunc(n);
  }

  // A live list's iterator (for...of, spread, Array.from, values()): one call
  // into Python per item, where the Array iterator makes two (length, item).
  const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
  class LiveListIterator {
    #ext;
    #index = 0;
    constructor(ext) { this.#ext = ext; }
    next() {
      const ext = this.#ext;
      if (ext !== undefined) {
        const value = c.listAt(ext, this.#index);
        if (value !== done) {
          this.#index++;
          return { value, done: false };
        }
        this.#ext = undefined;
      }
      return { value: undefined, done: true };
    }
  }
  Object.setPrototypeOf(LiveListIterator.prototype, IteratorPrototype);
  Object.defineProperty(LiveListIterator.prototype, Symbol.toStringTag, {
    value: 'Array Iterator', configurable: true,
  });

  // The methods of a live list that replace Array.prototype's, with the same
  // results: each makes one call into Python (the callback methods one per
  // item, and one for the length), where the generic ones make one per item
  // and property read (length, has, get, set). On anything but a live list
  // they are Array.prototype's.
  const listMethods = {
    push(...items) {
      const ext = lists.get(this);
      return ext === undefined ? generic.push.apply(this, items) : c.listInsert(ext, Infinity, items);
    },
    unshift(...items) {
      const ext = lists.get(this);
      return ext === undefined ? generic.unshift.apply(this, items) : c.listInsert(ext, 0, items);
    },
    pop() {
      const ext = lists.get(this);
      return ext === undefined ? generic.pop.call(this) : c.listPop(ext, false);
    },
    shift() {
      const ext = lists.get(this);
      return ext === undefined ? generic.shift.call(this) : c.listPop(ext, true);
    },
    splice(start, deleteCount, ...items) {
      const ext = lists.get(this);
      if (ext === undefined) return generic.splice.apply(this, arguments);
      const n = arguments.length;
      const count = n === 0 ? 0 : n === 1 ? Infinity : toInteger(deleteCount);
      return c.listSplice(ext, toInteger(start), count, items);
    },
    slice(start, end) {
      const ext = lists.get(this);
      if (ext === undefined) return generic.slice.apply(this, arguments);
      return c.listSlice(ext, toInteger(start), end === undefined ? Infinity : toInteger(end));
    },
    indexOf(search, fromIndex) {
      const ext = lists.get(this);
      if (ext === undefined) return generic.indexOf.apply(this, arguments);
      return c.listIndexOf(ext, search, toInteger(fromIndex), false);
    },
    includes(search, fromIndex) {
      const ext = lists.get(this);
      if (ext === undefined) return generic.includes.apply(this, arguments);
      return c.listIndexOf(ext, search, toInteger(fromIndex), true) >= 0;
    },
    values() {
      const ext = lists.get(this);
      return ext === undefined ? generic.values.call(this) : new LiveListIterator(ext);
    },
    // The callback methods read the length once and then each item (none
    // past the end: a Python list has no holes), as the generic ones do.
    forEach(callback, thisArg) {
      const ext = lists.get(this);
      if (ext === undefined || typeof callback !== 'function') return generic.forEach.apply(this, arguments);
      const len = c.listLength(ext);
      for (let k = 0; k < len; k++) {
        const v = c.listAt(ext, k);
        if (v !== done) callback.call(thisArg, v, k, this);
      }
      return undefined;
    },
    map(callback, thisArg) {
      const ext = lists.get(this);
      if (ext === undefined || typeof callback !== 'function') return generic.map.apply(this, arguments);
      const len = c.listLength(ext);
      const out = new Array(len);
      for (let k = 0; k < len; k++) {
        const v = c.listAt(ext, k);
        if (v !== done) out[k] = callback.call(thisArg, v, k, this);
      }
      return out;
    },
    filter(callback, thisArg) {
      const ext = lists.get(this);
      if (ext === undefined || typeof callback !== 'function') return generic.filter.apply(this, arguments);
      const len = c.listLength(ext);
      const out = [];
      for (let k = 0; k < len; k++) {
        const v = c.listAt(ext, k);
        if (v !== done && callback.call(thisArg, v, k, this)) out[out.length] = v;
      }
      return out;
    },
    some(callback, thisArg) {
      const ext = lists.get(this);
      if (ext === undefined || typeof callback !== 'function') return generic.some.apply(this, arguments);
      const len = c.listLength(ext);
      for (let k = 0; k < len; k++) {
        const v = c.listAt(ext, k);
        if (v !== done && callback.call(thisArg, v, k, this)) return true;
      }
      return false;
    },
    every(callback, thisArg) {
      const ext = lists.get(this);
      if (ext === undefined || typeof callback !== 'function') return generic.every.apply(this, arguments);
      const len = c.listLength(ext);
      for (let k = 0; k < len; k++) {
        const v = c.listAt(ext, k);
        if (v !== done && !callback.call(thisArg, v, k, this)) return false;
      }
      return true;
    },
    // find and findIndex visit missing items too, as undefined.
    find(predicate, thisArg) {
      const ext = lists.get(this);
      if (ext === undefined || typeof predicate !== 'function') return generic.find.apply(this, arguments);
      const len = c.listLength(ext);
      for (let k = 0; k < len; k++) {
        const at = c.listAt(ext, k);
        const v = at === done ? undefined : at;
        if (predicate.call(thisArg, v, k, this)) return v;
      }
      return undefined;
    },
    findIndex(predicate, thisArg) {
      const ext = lists.get(this);
      if (ext === undefined || typeof predicate !== 'function') return generic.findIndex.apply(this, arguments);
      const len = c.listLength(ext);
      for (let k = 0; k < len; k++) {
        const at = c.listAt(ext, k);
        if (predicate.call(thisArg, at === done ? undefined : at, k, this)) return k;
      }
      return -1;
    },
    reduce(callback, ...initial) {
      const ext = lists.get(this);
      if (ext === undefined || typeof callback !== 'function') return generic.reduce.apply(this, arguments);
      const len = c.listLength(ext);
      let k = 0;
      let acc = initial[0];
      if (initial.length === 0) {
        for (; k < len && (acc = c.listAt(ext, k)) === done; k++);
        if (k === len) return generic.reduce.call([], callback); // the TypeError of an empty array
        k++;
      }
      for (; k < len; k++) {
        const v = c.listAt(ext, k);
        if (v !== done) acc = callback(acc, v, k, this);
      }
      return acc;
    },
  };
  listMethods[Symbol.iterator] = listMethods.values;

  // util.inspect and console.log show a live container as the Array or object
  // of its items now (one call), each nested container in turn to the depth
  // asked; one inside itself shows as [Circular].
  const showing = new Map(); // container -> its items, while util.inspect shows them
  function inspectLive(depth, options, inspect) {
    const list = lists.get(this);
    const ext = list ?? dicts.get(this);
    if (ext === undefined) return '[live Python container prototype]';
    let shown = showing.get(this);
    if (shown !== undefined) return shown;
    if (depth !== null && depth < 0) return options.stylize(list ? '[Array]' : '[Object]', 'special');
    shown = list ? c.listSlice(ext, 0, Infinity) : c.dictCopy(ext);
    showing.set(this, shown);
    try {
      return inspect(shown, { ...options, depth });
    } finally {
      showing.delete(this);
    }
  }

  function methodsOf(methods) {
    const descriptors = { [util.inspect.custom]: { value: inspectLive, writable: true, configurable: true } };
    for (const key of Reflect.ownKeys(methods)) {
      descriptors[key] = { value: methods[key], writable: true, configurable: true };
    }
    return descriptors;
  }
  const listPrototype = Object.create(Array.prototype, {
    constructor: { value: Array, writable: true, configurable: true },
    ...methodsOf(listMethods),
  });
  const dictPrototype = Object.create(Object.prototype, {
    constructor: { value: Object, writable: true, configurable: true },
    ...methodsOf({}),
  });

  // Object.defineProperty on a live container: a data property that is
  // writable, enumerable and configurable (a list's length: writable only)
  // is set; anything else throws, since the Python object cannot hold it.
  function define(set, kind, ext, key, desc) {
    const isLength = kind === 'list' && key === 'length';
    const flag = !isLength;
    if ('get' in desc || 'set' in desc || desc.writable === false ||
        (desc.enumerable !== undefined && desc.enumerable !== flag) ||
        (desc.configurable !== undefined && desc.configurable !== flag)) {
      const name = typeof key === 'symbol' ? 'a symbol' : `'${key}'`;
      throw new TypeError(`Cannot define ${name} on a live Python ${kind}: only plain writable ` +
        `data properties are ${kind === 'list' ? 'its items and length' : 'its keys'}`);
    }
    if ('value' in desc) set(ext, key, desc.value);
    return true;
  }

  // A list key that C looks at: `length`, or one that starts with a digit
  // (C tells the indices, canonical decimals below 2**32 - 1, from the rest).
  // Any other key (a method's name, a symbol) is the target's, with no call.
  function mayBeIndex(key) {
    if (typeof key !== 'string') return false;
    const first = key.charCodeAt(0);
    return (first >= 48 && first <= 57) || key === 'length';
  }

  // The handlers: one per Proxy, holding its External (a property that the
  // traps read with an inline cache, where C would have to look it up).
  class ListHandler {
    constructor(ext) { this.ext = ext; }
    get(target, key) { return mayBeIndex(key) ? c.listGet(this.ext, key, target) : target[key]; }
    set(target, key, value) { return c.listSet(this.ext, key, value); }
    has(target, key) { return mayBeIndex(key) ? c.listHas(this.ext, key, target) : key in target; }
    deleteProperty(target, key) { return c.listDelete(this.ext, key); }
    ownKeys() { return c.listKeys(this.ext); }
    getOwnPropertyDescriptor(target, key) {
      return mayBeIndex(key) ? c.listDescriptor(this.ext, key) : undefined;
    }
    defineProperty(target, key, desc) { return define(c.listSet, 'list', this.ext, key, desc); }
    getPrototypeOf() { return Array.prototype; }
    setPrototypeOf() { return false; }
    preventExtensions() { return false; }
  }
  class DictHandler {
    constructor(ext) { this.ext = ext; }
    get(target, key) { return typeof key === 'string' ? c.dictGet(this.ext, key, target) : target[key]; }
    set(target, key, value) { return c.dictSet(this.ext, key, value); }
    has(target, key) { return typeof key === 'string' ? c.dictHas(this.ext, key, target) : key in target; }
    deleteProperty(target, key) { return c.dictDelete(this.ext, key); }
    ownKeys() { return c.dictKeys(this.ext); }
    getOwnPropertyDescriptor(target, key) {
      return typeof key === 'string' ? c.dictDescriptor(this.ext, key) : undefined;
    }
    defineProperty(target, key, desc) { return define(c.dictSet, 'dict', this.ext, key, desc); }
    getPrototypeOf() { return Object.prototype; }
    setPrototypeOf() { return false; }
    preventExtensions() { return false; }
  }

  return function live(target, ext) {
    let proxy;
    if (Array.isArray(target)) {
      Object.setPrototypeOf(target, listPrototype);
      proxy = new Proxy(target, new ListHandler(ext));
      lists.set(proxy, ext);
    } else {
      Object.setPrototypeOf(target, dictPrototype);
      proxy = new Proxy(target, new DictHandler(ext));
      dicts.set(proxy, ext);
    }
    return proxy;
  };
};
