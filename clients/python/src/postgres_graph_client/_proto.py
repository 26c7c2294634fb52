"""The generated protobuf module and the service's method paths, read from its descriptor."""
from ._generated.anime.graph.v1 import graph_service_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["PostgresGraphService"]


def method_path(name):
    """'/anime.graph.v1.PostgresGraphService/Neighbors' for 'Neighbors'."""
    return "/%s/%s" % (SERVICE.full_name, SERVICE.methods_by_name[name].name)
