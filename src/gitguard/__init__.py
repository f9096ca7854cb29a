"""gitguard: verify that every commit and tag is signed by someone the policy trusts."""

__version__ = "0.1.0"
