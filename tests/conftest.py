"""Shared fixtures. Importing pbgan first selects Keras 2 for every test module."""

import pbgan  # noqa: F401

import pytest


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    import tensorflow as tf

    tf.keras.backend.clear_session()
