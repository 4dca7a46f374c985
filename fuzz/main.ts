// Entry of `npm run fuzz` (bin/vbus-fuzz.mjs registers tsx and imports this file).
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
