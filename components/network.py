"""The VPC an EKS cluster runs in: subnets per AZ on a stable CIDR plan, NAT, flow logs, S3 endpoint."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from typing import Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, ValidationInfo, field_validator

from components._log_key import encrypted_log_group
from components._model import Environment, Model, as_args, for_environment, in_production
from components._options import resolve_protect

__all__ = ["Network", "NetworkArgs", "SubnetPair", "subnet_plan"]

#: CloudWatch Logs accepts only these retention periods (PutRetentionPolicy API reference).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922}
    | {3288, 3653}
)

#: Slots per AZ family: private subnet of AZ i is slot i, public subnet of AZ i is slot 8 + i.
_PUBLIC_SLOT_OFFSET = 8
_MAX_AZS = 6


def check_retention(days: int) -> int:
    """Reject a retention CloudWatch Logs would refuse at deploy time."""
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be one of the CloudWatch Logs retentions {sorted(LOG_RETENTION_DAYS)}")
    return days


class SubnetPair(Model):
    """The private and public subnet CIDRs of one availability zone."""

    private: str = Field(description="CIDR of the AZ's private subnet (nodes and pods). Required.")
    public: str = Field(description="CIDR of the AZ's public subnet (load balancers, NAT). Required.")

    @field_validator("private", "public")
    @classmethod
    def _is_cidr(cls, value: str) -> str:
        return str(_network(value))


def _network(value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        raise ValueError("must be an IPv4 CIDR with no host bits set, such as 10.0.0.0/16") from None


class NetworkArgs(Model):
    """The `network` section of the stack file: the VPC's shape."""

    cidr: str = Field(
        default="10.0.0.0/16",
        description=(
            "The VPC's IPv4 CIDR, /16 to /20. Default: 10.0.0.0/16. Subnets are carved from it in "
            "fixed slots of 1/16th each (private slot i, public slot 8+i for AZ i)."
        ),
    )
    az_count: int = Field(
        default=3,
        ge=1,
        le=_MAX_AZS,
        description=(
            "How many availability zones get a private and a public subnet. Default: 3. Production "
            "requires at least 2; adding an AZ never moves the existing subnets."
        ),
    )
    subnets: list[SubnetPair] | None = Field(
        default=None,
        description=(
            "An explicit CIDR plan, one entry per AZ index. Default: none, the slot plan derived "
            "from `cidr` is used. Entries must lie inside `cidr` and must not overlap."
        ),
    )
    nat: Literal["none", "single", "per-az"] = Field(
        default="per-az",
        description=(
            "NAT gateways for the private subnets' egress. Default: `per-az` (one per AZ: an AZ "
            "outage does not cut the others off). `single` saves ~$32/month per extra AZ at the "
            "cost of AZ resilience; `none` leaves private subnets without internet egress."
        ),
    )
    flow_logs: bool = Field(
        default=True,
        description="Send VPC flow logs (all traffic) to CloudWatch Logs. Default: on.",
    )
    flow_log_retention_days: int = Field(
        default=90,
        description="How long flow logs are kept. Default: 90 days.",
    )
    s3_endpoint: bool = Field(
        default=True,
        description=(
            "An S3 gateway endpoint on every route table. Default: on (free, and keeps ECR image "
            "layer pulls off the NAT gateways' per-GB charge)."
        ),
    )

    @field_validator("cidr")
    @classmethod
    def _cidr_is_valid(cls, value: str) -> str:
        net = _network(value)
        if not 16 <= net.prefixlen <= 20:
            raise ValueError("must be a /16 to /20 IPv4 CIDR (such as 10.0.0.0/16)")
        return str(net)

    @field_validator("az_count")
    @classmethod
    def _enough_azs_in_production(cls, value: int, info: ValidationInfo) -> int:
        if in_production(info) and value < 2:
            raise ValueError("must be >= 2 in production (one AZ is a single point of failure)")
        return value

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention_is_valid(cls, value: int) -> int:
        return check_retention(value)

    @field_validator("subnets")
    @classmethod
    def _plan_is_valid(cls, value: list[SubnetPair] | None, info: ValidationInfo) -> list[SubnetPair] | None:
        if value is None:
            return value
        cidr, az_count = info.data.get("cidr"), info.data.get("az_count")
        if az_count is not None and len(value) < az_count:
            raise ValueError(f"must have one entry per AZ: azCount is {az_count}, {len(value)} given")
        if cidr is not None:
            _check_plan(ipaddress.IPv4Network(cidr), value)
        return value


def _check_plan(vpc: ipaddress.IPv4Network, plan: list[SubnetPair]) -> None:
    named = [
        (f"[{i}].{kind}", ipaddress.IPv4Network(cidr))
        for i, pair in enumerate(plan)
        for kind, cidr in (("private", pair.private), ("public", pair.public))
    ]
    outside = [f"{where} {net}" for where, net in named if not net.subnet_of(vpc)]
    if outside:
        raise ValueError(f"subnets must lie inside the VPC CIDR {vpc}: {', '.join(outside)} do not")
    for i, (where_a, a) in enumerate(named):
        for where_b, b in named[i + 1 :]:
            if a.overlaps(b):
                raise ValueError(f"subnets must not overlap: {where_a} {a} overlaps {where_b} {b}")


def subnet_plan(args: NetworkArgs) -> list[SubnetPair]:
    """The private/public CIDRs for AZ indexes 0..azCount-1; index i never depends on azCount."""
    if args.subnets is not None:
        return list(args.subnets[: args.az_count])
    vpc = ipaddress.IPv4Network(args.cidr)
    slots = list(vpc.subnets(prefixlen_diff=4))
    return [
        SubnetPair(private=str(slots[i]), public=str(slots[_PUBLIC_SLOT_OFFSET + i]))
        for i in range(args.az_count)
    ]


def _cluster_name(where: str) -> Callable[[object], str]:
    """Checks a cluster name that arrived as an Output once it resolves, as a plain one would be."""

    def check(value: object) -> str:
        if not isinstance(value, str) or not re.match(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", value):
            raise ValueError(
                f"{where}: cluster_name: {value!r} is not an EKS cluster name; allowed: 1-100 letters, "
                "digits, '-' and '_', starting with a letter or digit"
            )
        return value

    return check


def _pick(index: int) -> Callable[[list[str]], str]:
    return lambda names: names[index]


class Network(pulumi.ComponentResource):
    """A VPC with a private and a public subnet per AZ, tagged for EKS load balancers."""

    vpc_id: pulumi.Output[str]
    """The VPC ID."""

    public_subnet_ids: pulumi.Output[list[str]]
    """The public subnets, one per AZ, in AZ order."""

    private_subnet_ids: pulumi.Output[list[str]]
    """The private subnets (nodes, pods), one per AZ, in AZ order."""

    availability_zones: pulumi.Output[list[str]]
    """The AZs used, in order."""

    nat_public_ips: pulumi.Output[list[str]]
    """The NAT gateways' public addresses (what the internet sees the private subnets as)."""

    def __init__(
        self,
        name: str,
        args: NetworkArgs,
        *,
        cluster_name: pulumi.Input[str],
        tags: Mapping[str, str] | None = None,
        protect: bool | None = None,
        environment: Environment = "production",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare the VPC `name` from `args` for the EKS cluster named `cluster_name` (a string or
        an Output of one: it becomes part of the subnets' discovery tag key). AWS children use
        the provider `opts` resolves for `aws`, as any Pulumi child does. `environment` (default
        `production`) selects the guardrails `args` are checked against.

        `protect` (or `opts.protect`; default on) protects the flow-log group and its key: the
        record of who talked to what, which an investigation needs after the fact. The VPC itself
        is rebuilt by running the program again, so it is not protected."""
        where = f"Network {name!r}"
        args = for_environment(where, as_args(where, NetworkArgs, args), environment)
        protect = resolve_protect(where, protect, opts)
        if not isinstance(cluster_name, str | pulumi.Output):
            raise TypeError(
                f"{where}: cluster_name: must be a string or an Output of one "
                f"(got {type(cluster_name).__name__})"
            )
        super().__init__("lmagent:components:Network", name, None, opts)
        base = {**(tags or {}), "component": "network"}

        def subnet_tags(label: str, role: str) -> pulumi.Input[Mapping[str, str]]:
            # EKS finds its subnets (and the load balancer controller its targets) by the cluster
            # tag, whose key holds the cluster's name: an Output name is resolved first.
            def tags_for(cluster: str) -> dict[str, str]:
                return named(label, **{f"kubernetes.io/cluster/{cluster}": "shared", role: "1"})

            if isinstance(cluster_name, str):
                return tags_for(cluster_name)
            return pulumi.Output.from_input(cluster_name).apply(_cluster_name(where)).apply(tags_for)

        def child() -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self)

        def named(label: str, **extra: str) -> dict[str, str]:
            return {**base, "Name": f"{name}-{label}", **extra}

        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        )
        azs = zones.names.apply(lambda names: list(names[: args.az_count]))

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            aws.ec2.VpcArgs(
                cidr_block=args.cidr,
                enable_dns_hostnames=True,  # EKS private endpoints and nodes need both DNS flags
                enable_dns_support=True,
                tags=named("vpc"),
            ),
            opts=child(),
        )
        # The default security group allows all traffic between its members: empty it so nothing
        # relies on it by accident (CIS AWS 5.4).
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            aws.ec2.DefaultSecurityGroupArgs(vpc_id=vpc.id, tags=named("default-sg")),
            opts=child(),
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw",
            aws.ec2.InternetGatewayArgs(vpc_id=vpc.id, tags=named("igw")),
            opts=child(),
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            aws.ec2.RouteTableArgs(vpc_id=vpc.id, tags=named("public-rt")),
            opts=child(),
        )
        aws.ec2.Route(
            f"{name}-public-default",
            aws.ec2.RouteArgs(
                route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id
            ),
            opts=child(),
        )

        public: list[aws.ec2.Subnet] = []
        private: list[aws.ec2.Subnet] = []
        private_rts: list[aws.ec2.RouteTable] = []
        for i, pair in enumerate(subnet_plan(args)):
            az = azs.apply(_pick(i))
            public.append(
                aws.ec2.Subnet(
                    f"{name}-public-{i}",
                    aws.ec2.SubnetArgs(
                        vpc_id=vpc.id,
                        cidr_block=pair.public,
                        availability_zone=az,
                        # Load balancers and NAT gateways get their own addresses; nothing else
                        # launched here should get a public IP by default.
                        map_public_ip_on_launch=False,
                        tags=subnet_tags(f"public-{i}", "kubernetes.io/role/elb"),
                    ),
                    opts=child(),
                )
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta",
                aws.ec2.RouteTableAssociationArgs(subnet_id=public[i].id, route_table_id=public_rt.id),
                opts=child(),
            )
            private.append(
                aws.ec2.Subnet(
                    f"{name}-private-{i}",
                    aws.ec2.SubnetArgs(
                        vpc_id=vpc.id,
                        cidr_block=pair.private,
                        availability_zone=az,
                        map_public_ip_on_launch=False,
                        tags=subnet_tags(f"private-{i}", "kubernetes.io/role/internal-elb"),
                    ),
                    opts=child(),
                )
            )
            # One private route table per AZ whatever the NAT strategy, so switching `single` to
            # `per-az` only changes routes, never subnet associations.
            private_rts.append(
                aws.ec2.RouteTable(
                    f"{name}-private-rt-{i}",
                    aws.ec2.RouteTableArgs(vpc_id=vpc.id, tags=named(f"private-rt-{i}")),
                    opts=child(),
                )
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}-rta",
                aws.ec2.RouteTableAssociationArgs(subnet_id=private[i].id, route_table_id=private_rts[i].id),
                opts=child(),
            )

        nat_count = {"none": 0, "single": 1, "per-az": args.az_count}[args.nat]
        nats: list[aws.ec2.NatGateway] = []
        eips: list[aws.ec2.Eip] = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(
                f"{name}-nat-{i}-eip",
                aws.ec2.EipArgs(domain="vpc", tags=named(f"nat-{i}")),
                opts=child(),
            )
            eips.append(eip)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    aws.ec2.NatGatewayArgs(
                        allocation_id=eip.id, subnet_id=public[i].id, tags=named(f"nat-{i}")
                    ),
                    # A NAT gateway needs the internet gateway attached before it can route.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        for i, rt in enumerate(private_rts if nats else []):
            aws.ec2.Route(
                f"{name}-private-default-{i}",
                aws.ec2.RouteArgs(
                    route_table_id=rt.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nats[min(i, len(nats) - 1)].id,
                ),
                opts=child(),
            )

        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        if args.s3_endpoint:
            aws.ec2.VpcEndpoint(
                f"{name}-s3",
                aws.ec2.VpcEndpointArgs(
                    vpc_id=vpc.id,
                    service_name=region.apply(lambda r: f"com.amazonaws.{r}.s3"),
                    vpc_endpoint_type="Gateway",
                    route_table_ids=[public_rt.id, *(rt.id for rt in private_rts)],
                    tags=named("s3"),
                ),
                opts=child(),
            )

        if args.flow_logs:
            self._flow_logs(name, args, vpc, region, base, protect)

        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*(s.id for s in public))
        self.private_subnet_ids = pulumi.Output.all(*(s.id for s in private))
        self.availability_zones = azs
        # The fixed addresses the private subnets reach the internet from (allowlists elsewhere).
        self.nat_public_ips = pulumi.Output.all(*(eip.public_ip for eip in eips))
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
                "availabilityZones": self.availability_zones,
                "natPublicIps": self.nat_public_ips,
            }
        )

    def _flow_logs(
        self,
        name: str,
        args: NetworkArgs,
        vpc: aws.ec2.Vpc,
        region: pulumi.Output[str],
        tags: dict[str, str],
        protect: bool,
    ) -> None:
        opts = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        group_name = vpc.id.apply(lambda vpc_id: f"/aws/vpc/{vpc_id}/flow-logs")
        group = encrypted_log_group(
            f"{name}-flow-logs",
            log_group_name=group_name,
            retention_days=args.flow_log_retention_days,
            account=account,
            region=region,
            purpose="VPC flow logs",
            tags=tags,
            parent=self,
            protect=protect,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            aws.iam.RoleArgs(
                description="VPC flow logs delivery to CloudWatch Logs",
                # aws:SourceAccount stops another account's flow logs from using this role
                # (confused deputy; VPC user guide, "IAM role for publishing flow logs").
                assume_role_policy=account.apply(
                    lambda acct: json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                                    "Action": "sts:AssumeRole",
                                    "Condition": {"StringEquals": {"aws:SourceAccount": acct}},
                                }
                            ],
                        }
                    )
                ),
                tags=tags,
            ),
            opts=opts,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            aws.iam.RolePolicyArgs(
                role=role.id,
                # Only this log group: the service needs no other logs permission.
                policy=group.arn.apply(
                    lambda arn: json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": [
                                        "logs:CreateLogStream",
                                        "logs:PutLogEvents",
                                        "logs:DescribeLogStreams",
                                    ],
                                    "Resource": [arn, f"{arn}:*"],
                                },
                                # DescribeLogGroups names no resource type (Service Authorization
                                # Reference, CloudWatch Logs): on a log group's ARN it never matches.
                                {
                                    "Effect": "Allow",
                                    "Action": ["logs:DescribeLogGroups"],
                                    "Resource": "*",
                                },
                            ],
                        }
                    )
                ),
            ),
            opts=opts,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            aws.ec2.FlowLogArgs(
                vpc_id=vpc.id,
                traffic_type="ALL",
                log_destination_type="cloud-watch-logs",
                log_destination=group.arn,
                iam_role_arn=role.arn,
                max_aggregation_interval=60,
                tags=tags,
            ),
            opts=opts,
        )
