'use strict';
// CommonJS fixture for the pymport_py tests.

// Counts how often the module body ran (require caches modules: it stays 1).
globalThis.__someLocalModuleLoads = (globalThis.__someLocalModuleLoads || 0) + 1;

function greet(name) {
  return `Hello, ${name}!`;
}

const counter = {
  value: 0,
  increment(by = 1) {
    this.value += by;
    return this.value;
  },
  reset() {
    this.value = 0;
  },
};

class Greeter {
  constructor(greeting = 'Hello') {
    this.greeting = greeting;
  }

  greet(name) {
    return `${this.greeting}, ${name}!`;
  }

  get shout() {
    return this.greeting.toUpperCase();
  }

  static create(greeting) {
    return new Greeter(greeting);
  }
}

module.exports = {
  greet,
  counter,
  Greeter,
  filename: __filename,
};
