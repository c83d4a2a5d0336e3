import { enableCompileCache } from 'node:module';

// Imported first by main.ts. A restart's time to answer is mostly loading JavaScript (Nest and the module graph,
// ~4 s of a 5 s start on a loaded 2-core machine); Node's on-disk compile cache (in the OS temp directory, or
// NODE_COMPILE_CACHE) skips recompiling what an earlier start compiled. A cache that cannot be written is skipped.
enableCompileCache();
