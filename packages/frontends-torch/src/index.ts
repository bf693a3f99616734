// @kiln/frontends-torch: torch.export .pt2 importer to Relax.
export {};
