// Module resolution hook registered by runner.mjs (node:module register): in flows run by
// flowdeck, `import ... from 'flowdeck'` means the flowdeck that runs them, wherever the flow
// file lives (it need not have flowdeck in its own node_modules). The API must match the
// worker's state store, so this mapping wins over a copy the project may have installed.

let target;

export function initialize(data) {
  target = data.target;
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'flowdeck') return { url: target, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}
