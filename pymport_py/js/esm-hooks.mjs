// ESM resolve hooks (module.register): the bare specifier 'pymport' (and its
// sub-paths) resolve to pymport_py's JS API, like require('pymport') does.
const targets = {
  pymport: new URL('./pymport.mjs', import.meta.url).href,
  'pymport/proxified': new URL('./proxified.mjs', import.meta.url).href,
  'pymport/array': new URL('./array.js', import.meta.url).href,
};

export async function resolve(specifier, context, nextResolve) {
  if (Object.prototype.hasOwnProperty.call(targets, specifier)) {
    return { url: targets[specifier], shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
