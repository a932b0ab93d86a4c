// ESM resolve hooks (module.register) of the runner of JavaScript test files
// (jstests.js): `import ... from 'node:test'` and `from 'mocha'` give the
// runner's recording functions, as require() of them does.
const shims = {
  'node:test': new URL('./node-test.mjs', import.meta.url).href,
  mocha: new URL('./mocha.mjs', import.meta.url).href,
};
const own = new Set(Object.values(shims));

export async function resolve(specifier, context, nextResolve) {
  if (Object.prototype.hasOwnProperty.call(shims, specifier) && !own.has(context.parentURL)
      && !(context.conditions ?? []).includes('require')) {
    return { url: shims[specifier], shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
