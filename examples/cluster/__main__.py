"""Entry point `pulumi up` runs: a VPC and an EKS cluster, standalone."""

import cluster

cluster.build()
