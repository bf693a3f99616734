// @kiln/cli: the kiln command line.
export {};
