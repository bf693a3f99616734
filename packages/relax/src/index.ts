// @kiln/relax: Relax: the graph IR with symbolic shapes, operators, graph passes and VM lowering.
export {};
