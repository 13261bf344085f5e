// Keep test output quiet unless asked for.
process.env.LOG_LEVEL = process.env.LOG_LEVEL || 'silent';
