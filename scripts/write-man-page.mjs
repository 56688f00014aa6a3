// Writes the man page of the app in the current directory from its built option table (run by the app's build):
// dist/man/<program>.8, rendered by the same description as its --help.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const app = await import(pathToFileURL(join(process.cwd(), 'dist', 'index.js')).href);
const { program, page } = app.manPage();
mkdirSync(join(process.cwd(), 'dist', 'man'), { recursive: true });
writeFileSync(join(process.cwd(), 'dist', 'man', `${program}.8`), page);
