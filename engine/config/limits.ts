/*
 * Upper bounds checked at config time, so that an impossible value is reported against its ps.json key
 * rather than later by the tier that cannot honour it.
 */

/** Largest vector dimension (a 4 MiB row). */
export const MAX_DIM = 1 << 20;
/** Most host-tier partitions per table (the host arena's own limit: each is a wasm32 memory of 4 GiB at most). */
export const MAX_PARTITIONS = 4096;
