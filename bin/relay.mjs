#!/usr/bin/env node
// The `relay` command. Node >= 22.12 runs the TypeScript sources directly.
import '../lib/cli/main.ts';
