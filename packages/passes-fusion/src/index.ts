// @kiln/passes-fusion: operator fusion and layout rewrites over Relax.
export {};
