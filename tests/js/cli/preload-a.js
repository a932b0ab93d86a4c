// --require'd before the program by test_cli.py: the program sees what it set.
globalThis.preloaded = [...(globalThis.preloaded ?? []), 'preload-a'];
