export function wellFormed(_fn: unknown): string[] { return []; }
