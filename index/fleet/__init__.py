"""The fleet: edges replicate their galleries into one Milvus collection per model; a hub searches it."""

from index.fleet.central import CentralCollection, FleetHit, global_id
from index.fleet.replicator import Replicator, replicate

__all__ = ["CentralCollection", "FleetHit", "Replicator", "global_id", "replicate"]
