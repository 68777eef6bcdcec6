#!/usr/bin/env node
// Launcher for `npx consentry ...`: registers tsx so Node runs the TypeScript
// client (bin/consentry.ts) as it is, without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./consentry.ts');
