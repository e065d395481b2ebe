"""Accounts and tokens: the whole flow, on every backend."""

import ipaddress

import pytest

import taskflow
from conftest import PASSWORD


def test_register_login_authenticate(tf):
    user = tf.register(email="  Ann@Example.COM ", password=PASSWORD, name="Ann")
    assert isinstance(user, taskflow.User)
    assert user.email == "ann@example.com" and user.role == "user" and not user.disabled
    assert user.created_at.tzinfo is not None and user.created_at.utcoffset().total_seconds() == 0
    assert set(user.to_dict()) == {"id", "email", "name", "role", "disabled", "created_at", "updated_at"}
    assert "ann@example.com" in repr(user)

    pair = tf.login(email="ann@example.com", password=PASSWORD)
    assert pair.token_type == "Bearer" and pair.expires_in == 900
    assert pair.user == user
    assert pair.access_token not in repr(pair) and pair.refresh_token not in repr(pair)
    me = tf.authenticate(pair.access_token)
    assert me.user_id == user.id and me.role == "user"
    assert tf.me(me) == user
    assert tf.update_me(me, name="Ann B.").name == "Ann B."

    with pytest.raises(taskflow.ConflictError) as e:
        tf.register(email="ANN@example.com", password=PASSWORD, name="Other")
    assert e.value.code == "conflict"
    # Wrong password and unknown email are the same error.
    with pytest.raises(taskflow.AuthenticationError) as wrong:
        tf.login(email="ann@example.com", password="wrong password")
    with pytest.raises(taskflow.AuthenticationError) as unknown:
        tf.login(email="nobody@example.com", password="wrong password")
    assert str(wrong.value) == str(unknown.value)
    assert wrong.value.code == "unauthenticated"


def test_refresh_rotation_and_reuse(tf, accounts):
    accounts.user("ann")
    pair = tf.login(email="ann@example.com", password=PASSWORD)
    nxt = tf.refresh(pair.refresh_token)
    assert nxt.refresh_token != pair.refresh_token
    tf.authenticate(nxt.access_token)
    # Reusing the spent token fails and revokes every token descended from it.
    with pytest.raises(taskflow.AuthenticationError):
        tf.refresh(pair.refresh_token)
    with pytest.raises(taskflow.AuthenticationError):
        tf.refresh(nxt.refresh_token)
    with pytest.raises(taskflow.AuthenticationError):
        tf.authenticate(nxt.access_token)


def test_logout_logout_all_and_password_change(tf, accounts):
    accounts.user("ann")
    one = tf.login(email="ann@example.com", password=PASSWORD)
    two = tf.login(email="ann@example.com", password=PASSWORD)
    tf.logout(one.access_token, one.refresh_token)
    with pytest.raises(taskflow.AuthenticationError):
        tf.authenticate(one.access_token)
    with pytest.raises(taskflow.AuthenticationError):
        tf.refresh(one.refresh_token)
    me = tf.authenticate(two.access_token)
    tf.logout_all(me)
    with pytest.raises(taskflow.AuthenticationError):
        tf.authenticate(two.access_token)

    here = tf.login(email="ann@example.com", password=PASSWORD)
    other = tf.login(email="ann@example.com", password=PASSWORD)
    me = tf.authenticate(here.access_token)
    with pytest.raises(taskflow.AuthenticationError):
        tf.change_password(me, current_password="not it", new_password="a new password")
    with pytest.raises(taskflow.ValidationError) as e:
        tf.change_password(me, current_password=PASSWORD, new_password="short")
    assert "new_password" in e.value.errors
    tf.change_password(me, current_password=PASSWORD, new_password="a new password")
    tf.authenticate(here.access_token)  # this session goes on
    with pytest.raises(taskflow.AuthenticationError):
        tf.authenticate(other.access_token)
    tf.login(email="ann@example.com", password="a new password")


def test_disabled_user_and_login_throttle(tf, accounts):
    admin = accounts.admin("root")
    ann = accounts.user("ann")
    token = tf.login(email="ann@example.com", password=PASSWORD).access_token
    tf.update_user(admin, ann.user_id, disabled=True)
    # A principal is checked when a token is authenticated: the token stops working.
    with pytest.raises(taskflow.AuthenticationError):
        tf.authenticate(token)
    with pytest.raises(taskflow.AuthenticationError):
        tf.login(email="ann@example.com", password=PASSWORD)
    tf.update_user(admin, ann.user_id, disabled=False)
    accounts.login("ann")

    accounts.user("bob")
    for _ in range(5):
        with pytest.raises(taskflow.AuthenticationError):
            tf.login(email="bob@example.com", password="wrong password")
    with pytest.raises(taskflow.RateLimitedError) as e:
        tf.login(email="bob@example.com", password=PASSWORD)
    assert e.value.code == "rate_limited"
    assert isinstance(e.value.retry_after, float) and 0 < e.value.retry_after <= 900


def test_login_throttle_counts_client_addresses_apart(tf, accounts):
    accounts.user("cat")
    for _ in range(5):
        with pytest.raises(taskflow.AuthenticationError):
            tf.login(email="cat@example.com", password="wrong password", client_addr="203.0.113.5")
    with pytest.raises(taskflow.RateLimitedError) as e:
        tf.login(email="cat@example.com", password=PASSWORD, client_addr="203.0.113.5")
    assert 0 < e.value.retry_after <= 900
    # Another address, as an ipaddress object, and no address at all have budgets of their own.
    tf.login(email="cat@example.com", password=PASSWORD, client_addr=ipaddress.ip_address("203.0.113.6"))
    tf.login(email="cat@example.com", password=PASSWORD)
    with pytest.raises(ValueError):
        tf.login(email="cat@example.com", password=PASSWORD, client_addr="not an address")


def test_email_spellings_are_one_account(tf):
    tf.register(email="jos\u00e9@example.com", password=PASSWORD, name="Jose")
    with pytest.raises(taskflow.ConflictError):
        tf.register(email="jose\u0301@example.com", password=PASSWORD, name="Jose")
    pair = tf.login(email="\uff4aos\u00e9@example.com", password=PASSWORD)
    assert pair.user.email == "jos\u00e9@example.com"
