"""The same web app and API as `fabscore serve`, as a Ray Serve deployment with several replicas.

    from ray import serve
    from fabscore.server.ray_serve import application

    serve.start(http_options={"host": "127.0.0.1", "port": 8000})
    serve.run(application(replicas=4), route_prefix="/")

Each replica is a Ray actor that loads the detector once and runs `create_app` (the very app
`fabscore serve` runs, built on the replica by Ray Serve's ingress builder), scoring in its own
process on one CPU; Ray Serve's proxy spreads the requests over the replicas of the cluster. The
records are the command line's (one thread per forward pass, whatever the replica).

What it leaves out, since a replica is one of many: no batch jobs (/v1/jobs answers 404: their SQLite
file is one machine's; send batches with `fabscore score --engine ray`), and no index that grows
through the API (indexes are read from a directory every replica can reach, and an article added to
one replica would not reach the others: POST /v1/indexes/{name}/articles is refused).
"""
from __future__ import annotations


def build_app(model: str | None = None, indexes: dict[str, str] | None = None, token: str | None = None):
    """The FastAPI app of one replica: the detector loaded here, no jobs, indexes read-only."""
    from fabscore.cli.loading import load_detector
    from fabscore.io.output import UsageError
    from fabscore.server.app import create_app

    return create_app(load_detector(model, UsageError), indexes, token, jobs_db=None, read_only_indexes=True)


def application(model: str | None = None, replicas: int = 2, indexes: dict[str, str] | None = None,
                token: str | None = None, cpus_per_replica: float = 1.0):
    """A Ray Serve application of `replicas` replicas of the app (serve.run it)."""
    from ray import serve

    def builder():
        return build_app(model, indexes, token)

    ingress = serve.ingress(builder)(type("FabscoreReplica", (), {}))
    deployment = serve.deployment(name="fabscore", num_replicas=replicas,
                                  ray_actor_options={"num_cpus": cpus_per_replica})(ingress)
    return deployment.bind()
