import json

from monitor.api.hub import BoardHub


def snapshot() -> dict[str, object]:
    return {"type": "snapshot", "beds": []}


async def test_first_frame_is_a_snapshot_then_deltas_batch_into_arrays() -> None:
    hub = BoardHub(queue_size=10)
    client = hub.connect()
    hub.publish({"type": "reading", "seq": 0})  # before the snapshot: already in it
    assert json.loads(await client.next_frame(snapshot))["type"] == "snapshot"
    hub.publish({"type": "reading", "seq": 1})
    assert json.loads(await client.next_frame(snapshot)) == {"type": "reading", "seq": 1}
    hub.publish({"type": "reading", "seq": 2})
    hub.publish({"type": "reading", "seq": 3})
    assert [m["seq"] for m in json.loads(await client.next_frame(snapshot))] == [2, 3]


async def test_a_client_that_falls_behind_gets_a_fresh_snapshot_and_others_do_not() -> None:
    hub = BoardHub(queue_size=3)
    slow, fast = hub.connect(), hub.connect()
    await slow.next_frame(snapshot)
    await fast.next_frame(snapshot)
    for seq in range(5):
        hub.publish({"type": "reading", "seq": seq})
        await fast.next_frame(snapshot)
    assert json.loads(await slow.next_frame(snapshot))["type"] == "snapshot"
    assert (slow.snapshots_sent, fast.snapshots_sent) == (2, 1)
    hub.disconnect(slow)
    assert hub.clients == 1
