#!/usr/bin/env node
// The `exitlab` command: the compiled CLI lives in dist/ (built by `npm install`).
import "../dist/bin/cli.js";
