from falcon import testing


def test_a_manager_can_be_created_and_read_back(any_client: testing.TestClient) -> None:
    created = any_client.simulate_post(
        "/v1/managers", json={"name": "Grace", "email": "g@example.com"}
    )
    assert created.status_code == 201
    fetched = any_client.simulate_get(created.headers["Location"])
    assert fetched.json == created.json
