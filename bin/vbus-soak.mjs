#!/usr/bin/env node
// `npm run soak`: registers tsx so the TypeScript sources run as they are, then starts the soak.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../soak/main.ts', import.meta.url).href);
