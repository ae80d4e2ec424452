"""Entry point `pulumi up -C bootstrap` runs: build the bootstrap stack the CLI selected."""

import sys
from pathlib import Path

import pulumi

# Pulumi runs this file from bootstrap/; the library lives at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stacks

stacks.build_bootstrap(pulumi.get_stack())
