// Entry of `npm run fuzz` (run from the TypeScript sources by tsx with the @vbus/source condition).
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
