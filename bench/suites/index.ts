import type { Suite } from '../lib/suite.js';
import { limitSuite } from './limit.js';
import { peersSuite } from './peers.js';
import { importSuite } from './import.js';

/** Every suite in the order they run (a suite's `needs` come before it). */
export const SUITES: Suite[] = [limitSuite, peersSuite, importSuite];
