import type { Suite } from '../lib/suite.js';
import { limitSuite } from './limit.js';
import { hostSuite } from './host.js';
import { peersSuite } from './peers.js';
import { importSuite } from './import.js';
import { latencySuite } from './latency.js';
import { tieredSuite } from './tiered.js';
import { memorySuite } from './memory.js';
import { l1CacheSuite } from './l1-cache.js';
import { serverSuite } from './server.js';
import { rankingSuite } from './ranking.js';
import { redisSuite } from './redis.js';

/** Every suite in the order they run (a suite's `needs` come before it). */
export const SUITES: Suite[] = [limitSuite, hostSuite, peersSuite, tieredSuite, latencySuite, memorySuite, importSuite, l1CacheSuite, rankingSuite, serverSuite, redisSuite];
