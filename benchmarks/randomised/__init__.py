"""The randomised out-of-sample benchmark: scenarios drawn from seeds, never tuned on."""
