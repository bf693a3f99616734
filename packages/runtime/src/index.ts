// @kiln/runtime: the deployable runtime: tensors, devices, the VM and the artifact format.
export {};
