"""Running a ZooKeeper ensemble: asking servers about themselves, installing, restarting, smoke-testing.

The step entry points are in :mod:`clusterctl.steps.zookeeper`; this package
holds the ideas they are made of, one module each.
"""
