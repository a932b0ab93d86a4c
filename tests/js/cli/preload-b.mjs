// --import'ed before the program by test_cli.py.
import { basename } from 'node:path';
globalThis.preloaded = [...(globalThis.preloaded ?? []), basename(import.meta.url)];
