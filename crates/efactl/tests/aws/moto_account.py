"""Builds and breaks AWS resources in a moto server through boto3, and reads back what a
deploy made, for crates/efactl/tests/aws_moto.rs.

Everything here goes through the AWS API directly (boto3), never through efactl, so that the
tests check efactl against the account and not against itself.

usage: moto_account.py ENDPOINT REGION COMMAND [ARGS...]
  baseline                 a healthy cluster: VPC, private subnet with the endpoints it needs,
                           a self-referencing security group, two nodes; prints its ids (JSON)
  break WHAT IDS_JSON      one mistake, made through the API; prints the id it is about
  read-stack STACK         what the stack made, read through EC2 / IAM / CloudFormation (JSON)
  instances N IDS_JSON     N more nodes in the baseline's subnet and group (for benchmarks)
  subnet                   a VPC and a subnet with nothing else (JSON ids)
  access-key ACCOUNT USER  an IAM user with an access key in another account (moto picks the
                           account of a request from its access key): {"id", "secret"}
"""

import json
import sys

import boto3

ENDPOINT, REGION, COMMAND = sys.argv[1], sys.argv[2], sys.argv[3]
ARGS = sys.argv[4:]


def client(name):
    return boto3.client(
        name,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


ec2 = client("ec2")

# The services a node in a subnet without internet reaches through endpoints (efactl's
# EFA017 list for a CloudFormation cluster using a Secrets Manager MPI key).
INTERFACE_SERVICES = ["secretsmanager", "logs", "ec2", "cloudformation", "sts"]


def ami():
    return ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


def run_nodes(n, subnet, sg, name="audit"):
    r = ec2.run_instances(
        ImageId=ami(),
        InstanceType="m5.xlarge",
        MinCount=n,
        MaxCount=n,
        SubnetId=subnet,
        SecurityGroupIds=[sg],
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "efactl:cluster", "Value": name},
                    {"Key": "Name", "Value": f"{name}-compute"},
                ],
            }
        ],
    )
    return [i["InstanceId"] for i in r["Instances"]]


def key_pair_value():
    """A real ed25519 key pair in the shape `efactl keys create` stores, made with
    `cryptography` (independent of efactl)."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ) + b" audit"
    return json.dumps(
        {
            "MPI_SSH_KEY_PRIVATE": base64.b64encode(private).decode(),
            "MPI_SSH_KEY_PUBLIC": base64.b64encode(public).decode(),
        }
    )


def baseline():
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.20.16.0/20", AvailabilityZone=REGION + "a"
    )["Subnet"]["SubnetId"]
    other = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.20.32.0/20", AvailabilityZone=REGION + "b"
    )["Subnet"]["SubnetId"]
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rt, SubnetId=subnet)
    ec2.associate_route_table(RouteTableId=rt, SubnetId=other)

    sg = ec2.create_security_group(
        GroupName="audit-efa", Description="nodes", VpcId=vpc
    )["GroupId"]
    pair = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg}]}]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=pair)
    ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=pair)
    ep_sg = ec2.create_security_group(
        GroupName="audit-endpoints", Description="endpoints", VpcId=vpc
    )["GroupId"]
    # Out only to each other and to the endpoints: the default egress to 0.0.0.0/0 goes.
    ec2.revoke_security_group_egress(
        GroupId=sg,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    ec2.authorize_security_group_egress(
        GroupId=sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "UserIdGroupPairs": [{"GroupId": ep_sg}],
            }
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=ep_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "UserIdGroupPairs": [{"GroupId": sg}],
            }
        ],
    )
    s3 = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[rt],
    )["VpcEndpoint"]["VpcEndpointId"]
    endpoints = {"s3": s3}
    for svc in INTERFACE_SERVICES:
        endpoints[svc] = ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=f"com.amazonaws.{REGION}.{svc}",
            VpcEndpointType="Interface",
            SubnetIds=[subnet],
            SecurityGroupIds=[ep_sg],
            PrivateDnsEnabled=True,
        )["VpcEndpoint"]["VpcEndpointId"]
    nodes = run_nodes(2, subnet, sg)
    secret = client("secretsmanager").create_secret(
        Name="audit-mpi-key", SecretString=key_pair_value()
    )["ARN"]
    return {
        "secret": secret,
        "vpc": vpc,
        "subnet": subnet,
        "other_subnet": other,
        "route_table": rt,
        "sg": sg,
        "endpoint_sg": ep_sg,
        "endpoints": endpoints,
        "nodes": nodes,
    }


def break_(what, ids):
    sg = ids["sg"]
    pair = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg}]}]
    if what == "self-egress":
        ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=pair)
        return sg
    if what == "placeholder-secret":
        client("secretsmanager").put_secret_value(
            SecretId=ids["secret"],
            SecretString=json.dumps({"MPI_SSH_KEY_PRIVATE": "", "MPI_SSH_KEY_PUBLIC": ""}),
        )
        return ids["secret"]
    if what == "world-ingress":
        ec2.authorize_security_group_ingress(
            GroupId=sg,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 8080,
                    "ToPort": 8080,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )
        return sg
    if what == "second-zone":
        return run_nodes(1, ids["other_subnet"], sg)[0]
    if what == "endpoint-missing":
        ec2.delete_vpc_endpoints(VpcEndpointIds=[ids["endpoints"]["secretsmanager"]])
        return ids["subnet"]
    if what == "gateway-off-route-table":
        ec2.modify_vpc_endpoint(
            VpcEndpointId=ids["endpoints"]["s3"], RemoveRouteTableIds=[ids["route_table"]]
        )
        return ids["endpoints"]["s3"]
    if what == "acl-deny-https":
        # A deny before the default ACL's allow-all, on the ACL the node subnet uses.
        acl = ec2.describe_network_acls(
            Filters=[{"Name": "association.subnet-id", "Values": [ids["subnet"]]}]
        )["NetworkAcls"][0]["NetworkAclId"]
        ec2.create_network_acl_entry(
            NetworkAclId=acl,
            RuleNumber=50,
            Protocol="6",
            RuleAction="deny",
            Egress=True,
            CidrBlock="0.0.0.0/0",
            PortRange={"From": 443, "To": 443},
        )
        return acl
    raise SystemExit(f"unknown break {what}")


def read_stack(stack):
    cfn = client("cloudformation")
    res = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    by_type = {}
    for r in res:
        if "ResourceType" not in r:
            # moto lists the resources it skipped (SecurityGroupEgress, ...) with no id/type.
            continue
        by_type.setdefault(r["ResourceType"], []).append(
            {"logical": r["LogicalResourceId"], "physical": r.get("PhysicalResourceId")}
        )
    out = {"resources": by_type, "security_groups": {}, "launch_templates": {}, "roles": {}}
    for r in by_type.get("AWS::EC2::SecurityGroup", []):
        g = ec2.describe_security_groups(GroupIds=[r["physical"]])["SecurityGroups"][0]
        out["security_groups"][r["logical"]] = {
            "id": g["GroupId"],
            "ingress": g["IpPermissions"],
            "egress": g["IpPermissionsEgress"],
        }
    for r in by_type.get("AWS::EC2::LaunchTemplate", []):
        v = ec2.describe_launch_template_versions(LaunchTemplateId=r["physical"])[
            "LaunchTemplateVersions"
        ][0]
        data = v["LaunchTemplateData"]
        data.pop("UserData", None)
        out["launch_templates"][r["logical"]] = data
    iam = client("iam")
    for r in by_type.get("AWS::IAM::Role", []):
        name = r["physical"]
        policies = {}
        for p in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            policies[p] = iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
        out["roles"][r["logical"]] = policies
    for r in by_type.get("AWS::EC2::Subnet", []):
        s = ec2.describe_subnets(SubnetIds=[r["physical"]])["Subnets"][0]
        out.setdefault("subnets", {})[r["logical"]] = {
            "cidr": s["CidrBlock"],
            "az": s["AvailabilityZone"],
            "public_ip": s["MapPublicIpOnLaunch"],
        }
    return out


def subnet_only():
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.30.16.0/20", AvailabilityZone=REGION + "a"
    )["Subnet"]["SubnetId"]
    return {"vpc": vpc, "subnet": subnet}


if COMMAND == "baseline":
    result = baseline()
elif COMMAND == "break":
    result = break_(ARGS[0], json.loads(ARGS[1]))
elif COMMAND == "read-stack":
    result = read_stack(ARGS[0])
elif COMMAND == "instances":
    ids = json.loads(ARGS[1])
    result = run_nodes(int(ARGS[0]), ids["subnet"], ids["sg"])
elif COMMAND == "subnet":
    result = subnet_only()
elif COMMAND == "bucket":
    s3 = client("s3")
    s3.create_bucket(Bucket=ARGS[0], CreateBucketConfiguration={"LocationConstraint": REGION})
    result = {"bucket": ARGS[0]}
elif COMMAND == "objects":
    listed = client("s3").list_objects_v2(Bucket=ARGS[0], Prefix=ARGS[1])
    result = {
        o["Key"]: len(client("s3").get_object(Bucket=ARGS[0], Key=o["Key"])["Body"].read())
        for o in listed.get("Contents", [])
    }
elif COMMAND == "empty-secret":
    # A secret created without a value (the console and the CLI allow it): no version yet.
    result = {"arn": client("secretsmanager").create_secret(Name=ARGS[0])["ARN"]}
elif COMMAND == "access-key":
    # moto serves many accounts: a request's account is the one whose IAM owns its access key,
    # and `x-moto-account-id` picks the account of a request made with any other key.
    iam = client("iam")
    account_id = ARGS[0]

    def in_account(request, **_):
        request.headers["x-moto-account-id"] = account_id

    iam.meta.events.register("before-sign.iam.*", in_account)
    iam.create_user(UserName=ARGS[1])
    key = iam.create_access_key(UserName=ARGS[1])["AccessKey"]
    result = {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
else:
    raise SystemExit(f"unknown command {COMMAND}")
print(json.dumps(result, default=str))
