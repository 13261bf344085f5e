// Jest transformer: erase TypeScript types with Node's built-in stripper.
// 'strip' mode keeps every position, so stack traces need no source map.
const { stripTypeScriptTypes } = require('node:module');
const { createHash } = require('node:crypto');

module.exports = {
  process(source) {
    return { code: stripTypeScriptTypes(source, { mode: 'strip' }) };
  },
  getCacheKey(source, path) {
    return createHash('sha256').update(path).update('\0').update(source).digest('hex');
  },
};
