// ES module input of `python -m pymport_py --input-type=module -e CODE` (or
// standard input): module.register()ed once by cli.js with the URL node gives
// such input (file:///<cwd>/[eval1]) and its source.
let entry = null;

export function initialize(data) {
  entry = data;
}

export async function resolve(specifier, context, nextResolve) {
  if (entry !== null && specifier === entry.url) return { url: entry.url, shortCircuit: true };
  return nextResolve(specifier, context);
}

export async function load(href, context, nextLoad) {
  if (entry !== null && href === entry.url) {
    return { format: 'module', source: entry.source, shortCircuit: true };
  }
  return nextLoad(href, context);
}
