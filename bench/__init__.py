"""Benchmarks (not tests): synth time and memory against the Pulumi SDK's own floor."""
