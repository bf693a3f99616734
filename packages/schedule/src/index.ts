// @kiln/schedule: schedule primitives over TensorIR with a replayable trace, default schedules and auto-tuning.
export {};
