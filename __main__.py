"""Entry point `pulumi up` runs: build the stack the CLI selected."""

import pulumi

import stacks

stacks.build(pulumi.get_stack())
