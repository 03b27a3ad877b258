"""The Key aggregate: one KMS key, whose every lifecycle change is an event.

Commands are verbs (``key.disable()``) and events are facts (``KeyDisabled``).
Each command checks the key state first and raises the KMS error AWS gives,
before any event is triggered, so a refused command changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from domain import rotation
from domain.errors import (
    DisabledException,
    KMSInvalidStateException,
    LimitExceededException,
    NotFoundException,
    UnsupportedOperationException,
)
from domain.grant import (
    MAX_GRANTS_PER_KEY,
    Grant,
    GrantConstraints,
    GranteeIndex,
    check_grant_operations,
)
from domain.identifiers import key_arn
from domain.key_import import (
    ORIGIN_EXTERNAL,
    PARAMETERS_VALIDITY,
    Expiration,
    ExpirationModel,
    ImportedKeyMaterial,
    ImportParameters,
    WrappingAlgorithm,
    check_import_type,
    earliest_expiry,
    find_import_parameters,
)
from domain.key_state import KeyState
from domain.policy import Policy, PolicyKind, default_key_policy
from domain.rotation import KeyMaterialRotation, RotationType

SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
ORIGIN_AWS_KMS = "AWS_KMS"
KEY_MANAGER_CUSTOMER = "CUSTOMER"


class Key(Aggregate):
    """A symmetric KMS key with its key materials, tags and key state."""

    class KeyCreated(Aggregate.Created):
        account_id: str
        region: str
        description: str
        key_usage: str
        key_spec: str
        origin: str
        multi_region: bool
        tags: dict[str, str]
        key_material_id: str | None
        sealed_key_material: str | None
        """Base64 of the key material sealed under its own sealing key; None
        for a key created for imported key material (origin EXTERNAL)."""
        policy: str | None
        """The key policy the key was created with; None stands for the
        default key policy of its account."""

        # Version 1 had no policy: such keys were created before key
        # policies, and so have the default key policy.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["policy"] = None

    class KeyDescriptionUpdated(Aggregate.Event):
        description: str

        def apply(self, key: Any) -> None:
            key.description = self.description

    class KeyEnabled(Aggregate.Event):
        def apply(self, key: Any) -> None:
            key.state = KeyState.ENABLED

    class KeyDisabled(Aggregate.Event):
        def apply(self, key: Any) -> None:
            key.state = KeyState.DISABLED

    class KeyDeletionScheduled(Aggregate.Event):
        deletion_date: datetime
        pending_window_in_days: int

        def apply(self, key: Any) -> None:
            key.state = KeyState.PENDING_DELETION
            key.deletion_date = self.deletion_date
            key.pending_window_in_days = self.pending_window_in_days

    class KeyDeletionCancelled(Aggregate.Event):
        def apply(self, key: Any) -> None:
            # AWS leaves a key whose deletion was cancelled disabled.
            key.state = KeyState.DISABLED
            key.deletion_date = None
            key.pending_window_in_days = None
            # Unless imported key material is missing: then it waits for it.
            key.refresh_import_state()

    class KeyDeleted(Aggregate.Event):
        """The waiting period ended; every key material was crypto-shredded."""

        def apply(self, key: Any) -> None:
            key.deleted = True

    class KeyTagged(Aggregate.Event):
        tags: dict[str, str]

        def apply(self, key: Any) -> None:
            key.tags = {**key.tags, **self.tags}

    class KeyUntagged(Aggregate.Event):
        tag_keys: list[str]

        def apply(self, key: Any) -> None:
            key.tags = {k: v for k, v in key.tags.items() if k not in self.tag_keys}

    # Key policy.

    class KeyPolicyPut(Aggregate.Event):
        policy: str

        def apply(self, key: Any) -> None:
            key.policy_text = self.policy
            key.parsed_policy = None

    # Rotation.

    class KeyRotationEnabled(Aggregate.Event):
        rotation_period_in_days: int
        next_rotation_date: datetime

        def apply(self, key: Any) -> None:
            key.rotation_period_in_days = self.rotation_period_in_days
            key.next_rotation_date = self.next_rotation_date

    class KeyRotationDisabled(Aggregate.Event):
        def apply(self, key: Any) -> None:
            key.rotation_period_in_days = None
            key.next_rotation_date = None

    class KeyMaterialRotated(Aggregate.Event):
        """New key material became current; the older ones still decrypt."""

        key_material_id: str
        sealed_key_material: str
        """Base64 of the key material sealed under its own sealing key."""
        rotation_type: str
        next_rotation_date: datetime | None
        """The automatic rotation date after this rotation; an on-demand
        rotation leaves it as it was."""

        def apply(self, key: Any) -> None:
            key.key_materials[self.key_material_id] = self.sealed_key_material
            key.current_key_material_id = self.key_material_id
            key.rotations.append(
                KeyMaterialRotation(
                    self.key_material_id,
                    self.timestamp,
                    RotationType(self.rotation_type),
                )
            )
            key.next_rotation_date = self.next_rotation_date

    # Imported key material.

    class ImportParametersIssued(Aggregate.Event):
        """A wrapping key and an import token were issued.

        Only the sealed wrapping private key and the token's digest are
        recorded, never either secret in the clear.
        """

        parameters_id: str
        wrapping_algorithm: str
        wrapping_key_spec: str
        valid_to: datetime
        token_digest: str
        sealed_wrapping_key: str

        def apply(self, key: Any) -> None:
            key.import_parameters[self.parameters_id] = ImportParameters(
                self.parameters_id,
                WrappingAlgorithm(self.wrapping_algorithm),
                self.wrapping_key_spec,
                self.valid_to,
                self.token_digest,
                self.sealed_wrapping_key,
            )

    class KeyMaterialImported(Aggregate.Event):
        """Key material was imported, or imported again; its import token is spent."""

        key_material_id: str
        sealed_key_material: str
        """Base64 of the key material sealed under its own sealing key."""
        parameters_id: str
        expiration_model: str
        valid_to: datetime | None
        description: str | None

        def apply(self, key: Any) -> None:
            key.key_materials[self.key_material_id] = self.sealed_key_material
            key.imported_materials[self.key_material_id] = ImportedKeyMaterial(
                self.key_material_id,
                self.description,
                ExpirationModel(self.expiration_model),
                self.valid_to,
                imported=True,
            )
            if key.current_key_material_id is None:
                key.current_key_material_id = self.key_material_id
            key.spend_import_parameters(self.parameters_id, used=True)
            key.refresh_import_state()

    class ImportedKeyMaterialDeleted(Aggregate.Event):
        """DeleteImportedKeyMaterial crypto-shredded this key material."""

        key_material_id: str

        def apply(self, key: Any) -> None:
            key.remove_imported_material(self.key_material_id)

    class ImportedKeyMaterialExpired(Aggregate.Event):
        """The key material reached its ValidTo and was crypto-shredded."""

        key_material_id: str

        def apply(self, key: Any) -> None:
            key.remove_imported_material(self.key_material_id)

    class ImportParametersExpired(Aggregate.Event):
        """Unused import parameters passed their 24 hours; their wrapping key is
        erased."""

        parameters_id: str

        def apply(self, key: Any) -> None:
            key.spend_import_parameters(self.parameters_id, used=False)

    # Grants; the rules are in domain.grant.

    class GrantCreated(Aggregate.Event):
        grant_id: str
        name: str | None
        grantee_principal: str
        retiring_principal: str | None
        operations: list[str]
        constraints: dict[str, dict[str, str]]
        """The Constraints parameter as the wire gives it, empty for none."""
        issuing_account: str

        def apply(self, key: Any) -> None:
            key.add_grant(
                Grant(
                    grant_id=self.grant_id,
                    key_id=key.key_id,
                    name=self.name,
                    grantee_principal=self.grantee_principal,
                    retiring_principal=self.retiring_principal,
                    operations=tuple(self.operations),
                    constraints=GrantConstraints.from_wire(self.constraints),
                    issuing_account=self.issuing_account,
                    creation_date=self.timestamp,
                    position=self.originator_version,
                )
            )

    class GrantRetired(Aggregate.Event):
        grant_id: str

        def apply(self, key: Any) -> None:
            key.remove_grant(self.grant_id)

    class GrantRevoked(Aggregate.Event):
        grant_id: str

        def apply(self, key: Any) -> None:
            key.remove_grant(self.grant_id)

    def __init__(
        self,
        account_id: str,
        region: str,
        description: str,
        key_usage: str,
        key_spec: str,
        origin: str,
        multi_region: bool,
        tags: dict[str, str],
        key_material_id: str | None,
        sealed_key_material: str | None,
        policy: str | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        # Requests read the id and the ARN several times each, and neither
        # can change, so they are formatted once.
        self.key_id = str(self.id)
        self.arn = key_arn(region, account_id, self.key_id)
        self.description = description
        self.key_usage = key_usage
        self.key_spec = key_spec
        self.origin = origin
        self.multi_region = multi_region
        self.tags = dict(tags)
        self.deletion_date: datetime | None = None
        self.pending_window_in_days: int | None = None
        self.deleted = False
        # The key materials that can be opened, by key material id.
        self.key_materials: dict[str, str] = {}
        self.current_key_material_id: str | None = key_material_id
        if key_material_id is not None and sealed_key_material is not None:
            self.key_materials[key_material_id] = sealed_key_material
            self.state = KeyState.ENABLED
        else:
            self.state = KeyState.PENDING_IMPORT
        # Rotation: the period is None while automatic rotation is off.
        self.rotation_period_in_days: int | None = None
        self.next_rotation_date: datetime | None = None
        self.rotations: list[KeyMaterialRotation] = []
        # Imported key material: each key material associated with the key, in
        # import order, and the import parameters issued for it.
        self.imported_materials: dict[str, ImportedKeyMaterial] = {}
        self.import_parameters: dict[str, ImportParameters] = {}
        # Grants by grant id, in creation order, and by grantee.
        self.grants: dict[str, Grant] = {}
        self.grantee_index = GranteeIndex()
        # The key policy as given; None means the default key policy.
        self.policy_text: str | None = policy
        self.parsed_policy: Policy | None = None

    @classmethod
    def create(
        cls,
        *,
        key_id: str,
        account_id: str,
        region: str,
        description: str,
        tags: Mapping[str, str],
        key_material_id: str,
        sealed_key_material: str,
        now: datetime,
        policy: str | None = None,
    ) -> Key:
        return cls._create_symmetric(
            key_id=key_id,
            account_id=account_id,
            region=region,
            description=description,
            tags=tags,
            origin=ORIGIN_AWS_KMS,
            key_material_id=key_material_id,
            sealed_key_material=sealed_key_material,
            now=now,
            policy=policy,
        )

    @classmethod
    def _create_symmetric(
        cls,
        *,
        key_id: str,
        account_id: str,
        region: str,
        description: str,
        tags: Mapping[str, str],
        origin: str,
        key_material_id: str | None,
        sealed_key_material: str | None,
        now: datetime,
        policy: str | None = None,
    ) -> Key:
        return cls._create(
            cls.KeyCreated,
            id=uuid.UUID(key_id),
            timestamp=now,
            account_id=account_id,
            region=region,
            description=description,
            key_usage=ENCRYPT_DECRYPT,
            key_spec=SYMMETRIC_DEFAULT,
            origin=origin,
            multi_region=False,
            tags=dict(tags),
            key_material_id=key_material_id,
            sealed_key_material=sealed_key_material,
            policy=policy,
        )

    @property
    def creation_date(self) -> datetime:
        return self.created_on

    @property
    def policy(self) -> str:
        """The key policy document, as GetKeyPolicy returns it."""
        if self.policy_text is None:
            return default_key_policy(self.account_id)
        return self.policy_text

    @property
    def key_policy(self) -> Policy:
        """The key policy, parsed once per version of the key."""
        parsed = self.parsed_policy
        if parsed is None:
            parsed = Policy.parse(self.policy, PolicyKind.KEY)
            self.parsed_policy = parsed
        return parsed

    # Guards, in the order AWS applies them.

    def check_exists(self) -> None:
        if self.deleted:
            raise NotFoundException(f"Key '{self.arn}' does not exist")

    def check_usable(self) -> None:
        """Raise the error AWS gives when a key cannot be used for cryptography."""
        self.check_exists()
        if self.state is KeyState.DISABLED:
            raise DisabledException(f"{self.arn} is disabled.")
        if self.state is not KeyState.ENABLED:
            raise self._invalid_state()

    def check_not_expired(self, now: datetime) -> None:
        """Refuse cryptographic use once imported key material reaches ValidTo.

        The sweep erases expired material within one sweep interval; until it
        runs, this check makes the key unusable from ValidTo on, as the key
        would be in PendingImport by then.
        """
        for material in self.imported_materials.values():
            if (
                material.imported
                and material.valid_to is not None
                and material.valid_to <= now
                and not self.is_pending_rotation(material.key_material_id)
            ):
                raise KMSInvalidStateException(f"{self.arn} is pending import.")

    def check_manageable(self) -> None:
        """Raise the error AWS gives for management calls on a key pending deletion."""
        self.check_exists()
        if self.state is KeyState.PENDING_DELETION:
            raise self._invalid_state()

    def _invalid_state(self) -> KMSInvalidStateException:
        if self.state is KeyState.PENDING_DELETION:
            return KMSInvalidStateException(f"{self.arn} is pending deletion.")
        if self.state is KeyState.PENDING_IMPORT:
            return KMSInvalidStateException(f"{self.arn} is pending import.")
        return KMSInvalidStateException(f"{self.arn} is {self.state.value}.")

    # Commands.

    def update_description(self, description: str, now: datetime) -> None:
        self.check_manageable()
        self.trigger_event(
            self.KeyDescriptionUpdated, description=description, timestamp=now
        )

    def enable(self, now: datetime) -> None:
        self.check_manageable()
        if self.state is KeyState.PENDING_IMPORT:
            raise self._invalid_state()
        if self.state is not KeyState.ENABLED:
            self.trigger_event(self.KeyEnabled, timestamp=now)

    def disable(self, now: datetime) -> None:
        self.check_manageable()
        if self.state is KeyState.PENDING_IMPORT:
            raise self._invalid_state()
        if self.state is not KeyState.DISABLED:
            self.trigger_event(self.KeyDisabled, timestamp=now)

    def schedule_deletion(self, pending_window_in_days: int, now: datetime) -> None:
        self.check_manageable()
        self.trigger_event(
            self.KeyDeletionScheduled,
            deletion_date=now + timedelta(days=pending_window_in_days),
            pending_window_in_days=pending_window_in_days,
            timestamp=now,
        )

    def cancel_deletion(self, now: datetime) -> None:
        self.check_exists()
        if self.state is not KeyState.PENDING_DELETION:
            raise KMSInvalidStateException(f"{self.arn} is not pending deletion.")
        self.trigger_event(self.KeyDeletionCancelled, timestamp=now)

    def is_deletion_due(self, now: datetime) -> bool:
        return (
            not self.deleted
            and self.state is KeyState.PENDING_DELETION
            and self.deletion_date is not None
            and self.deletion_date <= now
        )

    def delete(self, now: datetime) -> None:
        """End the waiting period: the key and all its key materials are gone."""
        if not self.is_deletion_due(now):
            raise KMSInvalidStateException(f"{self.arn} is not due for deletion.")
        self.trigger_event(self.KeyDeleted, timestamp=now)

    def tag(self, tags: Mapping[str, str], now: datetime) -> None:
        self.check_manageable()
        self.trigger_event(self.KeyTagged, tags=dict(tags), timestamp=now)

    def untag(self, tag_keys: Iterable[str], now: datetime) -> None:
        self.check_manageable()
        self.trigger_event(self.KeyUntagged, tag_keys=list(tag_keys), timestamp=now)

    def put_policy(self, policy: Policy, now: datetime) -> None:
        """Replace the key policy; the caller has checked it will not lock
        itself out, or chose to bypass that check."""
        self.trigger_event(self.KeyPolicyPut, timestamp=now, policy=policy.text)
        self.parsed_policy = policy

    # Rotation commands; the rules are in domain.rotation.

    @property
    def rotation_enabled(self) -> bool:
        return self.rotation_period_in_days is not None

    def enable_rotation(self, rotation_period_in_days: int, now: datetime) -> None:
        """Turn automatic rotation on, or change the period of rotation already on."""
        rotation.check_rotation_configurable(self)
        old_period = self.rotation_period_in_days
        if old_period == rotation_period_in_days:
            return
        if old_period is None or self.next_rotation_date is None:
            next_date = rotation.first_rotation_date(now, rotation_period_in_days)
        else:
            next_date = rotation.rescheduled_rotation_date(
                self.next_rotation_date, old_period, rotation_period_in_days
            )
        self.trigger_event(
            self.KeyRotationEnabled,
            rotation_period_in_days=rotation_period_in_days,
            next_rotation_date=next_date,
            timestamp=now,
        )

    def disable_rotation(self, now: datetime) -> None:
        rotation.check_rotation_configurable(self)
        if self.rotation_enabled:
            self.trigger_event(self.KeyRotationDisabled, timestamp=now)

    def check_on_demand_rotation(self, now: datetime) -> None:
        """Raise the error AWS gives if RotateKeyOnDemand cannot rotate now.

        Handlers call it before making new key material, so a refused request
        seals nothing.
        """
        rotation.check_on_demand_rotation(self, now)

    def rotate_on_demand(
        self, key_material_id: str, sealed_key_material: str, now: datetime
    ) -> None:
        """Make new key material current now; the automatic schedule stays.

        Takes the new key material of a key whose material KMS makes
        (origin AWS_KMS).
        """
        rotation.check_on_demand_rotation(self, now)
        if self.origin != ORIGIN_AWS_KMS:
            # A key with imported key material (origin EXTERNAL) rotates with
            # rotate_to_imported_key_material instead.
            raise UnsupportedOperationException(
                f"{self.arn} origin is {self.origin} which is not valid for this "
                "operation."
            )
        self.trigger_event(
            self.KeyMaterialRotated,
            key_material_id=key_material_id,
            sealed_key_material=sealed_key_material,
            rotation_type=RotationType.ON_DEMAND.value,
            next_rotation_date=self.next_rotation_date,
            timestamp=now,
        )

    def rotate_automatically(
        self, key_material_id: str, sealed_key_material: str, now: datetime
    ) -> None:
        """Rotate a key whose automatic rotation is due; the next is one period on.

        A rotation that fell due while the key was disabled or stopped happens
        once, now, and the period counts from now.
        """
        period = self.rotation_period_in_days
        if period is None or not rotation.is_rotation_due(self, now):
            raise KMSInvalidStateException(f"{self.arn} is not due for rotation.")
        self.trigger_event(
            self.KeyMaterialRotated,
            key_material_id=key_material_id,
            sealed_key_material=sealed_key_material,
            rotation_type=RotationType.AUTOMATIC.value,
            next_rotation_date=now + timedelta(days=period),
            timestamp=now,
        )

    # Grant commands; the rules are in domain.grant.

    def create_grant(
        self,
        *,
        grant_id: str,
        name: str | None,
        grantee_principal: str,
        retiring_principal: str | None,
        operations: Sequence[str],
        constraints: GrantConstraints,
        issuing_account: str,
        now: datetime,
    ) -> Grant:
        """Add a grant, or return the grant that an earlier identical request
        with the same Name made ("Key states of AWS KMS keys": CreateGrant
        needs an enabled key)."""
        self.check_usable()
        check_grant_operations(operations, self.key_spec, self.arn)
        for earlier in self.grants.values():
            if earlier.repeats(
                name, grantee_principal, retiring_principal, operations, constraints
            ):
                return earlier
        if len(self.grants) >= MAX_GRANTS_PER_KEY:
            # NOTE: AWS's message for this quota is not confirmed.
            raise LimitExceededException(
                f"{self.arn} already has {MAX_GRANTS_PER_KEY} grants, the "
                "maximum for a KMS key. Retire or revoke grants to add more."
            )
        self.trigger_event(
            self.GrantCreated,
            grant_id=grant_id,
            name=name,
            grantee_principal=grantee_principal,
            retiring_principal=retiring_principal,
            operations=list(dict.fromkeys(operations)),
            constraints=constraints.to_wire(),
            issuing_account=issuing_account,
            timestamp=now,
        )
        created: Grant = self.grants[grant_id]
        return created

    def existing_grant(self, grant_id: str) -> Grant:
        """Return a grant of this key, or raise NotFoundException.

        RetireGrant and RevokeGrant work in every key state.
        """
        self.check_exists()
        grant = self.grants.get(grant_id)
        if grant is None:
            # NOTE: AWS's message for a missing grant is not confirmed.
            raise NotFoundException(f"Grant ID {grant_id} not found on {self.arn}.")
        return grant

    def retire_grant(self, grant_id: str, now: datetime) -> None:
        self.existing_grant(grant_id)
        self.trigger_event(self.GrantRetired, grant_id=grant_id, timestamp=now)

    def revoke_grant(self, grant_id: str, now: datetime) -> None:
        self.existing_grant(grant_id)
        self.trigger_event(self.GrantRevoked, grant_id=grant_id, timestamp=now)

    def grants_for(self, principal_arn: str, account_id: str) -> list[Grant]:
        """Return the grants whose grantee is this caller, oldest first."""
        found = [
            self.grants[grant_id]
            for grant_id in self.grantee_index.candidates(principal_arn, account_id)
        ]
        matching = [g for g in found if g.grantee_matches(principal_arn, account_id)]
        return sorted(matching, key=lambda grant: grant.position)

    def add_grant(self, grant: Grant) -> None:
        self.grants[grant.grant_id] = grant
        self.grantee_index.add(grant)

    def remove_grant(self, grant_id: str) -> None:
        grant = self.grants.pop(grant_id, None)
        if grant is not None:
            self.grantee_index.remove(grant)

    # Imported key material; the rules are in domain.key_import.

    @classmethod
    def create_for_import(
        cls,
        *,
        key_id: str,
        account_id: str,
        region: str,
        description: str,
        tags: Mapping[str, str],
        now: datetime,
        policy: str | None = None,
    ) -> Key:
        """Create a key with no key material (origin EXTERNAL), pending import."""
        return cls._create_symmetric(
            key_id=key_id,
            account_id=account_id,
            region=region,
            description=description,
            tags=tags,
            origin=ORIGIN_EXTERNAL,
            key_material_id=None,
            sealed_key_material=None,
            now=now,
            policy=policy,
        )

    def check_import_allowed(self) -> None:
        """Raise the error AWS gives when this key cannot take key material now.

        "Key states of AWS KMS keys": GetParametersForImport and
        ImportKeyMaterial work on a key with imported key material unless it
        is pending deletion, and on no other key.
        """
        self.check_exists()
        self._check_external_origin()
        if self.state is KeyState.PENDING_DELETION:
            raise self._invalid_state()

    def _check_external_origin(self) -> None:
        if self.origin != ORIGIN_EXTERNAL:
            raise UnsupportedOperationException(
                f"{self.arn} origin is {self.origin} which is not valid for this "
                "operation."
            )

    def issue_import_parameters(
        self,
        *,
        parameters_id: str,
        wrapping_algorithm: WrappingAlgorithm,
        wrapping_key_spec: str,
        token_digest: str,
        sealed_wrapping_key: str,
        now: datetime,
    ) -> ImportParameters:
        self.check_import_allowed()
        self.trigger_event(
            self.ImportParametersIssued,
            parameters_id=parameters_id,
            wrapping_algorithm=wrapping_algorithm.value,
            wrapping_key_spec=wrapping_key_spec,
            valid_to=now + PARAMETERS_VALIDITY,
            token_digest=token_digest,
            sealed_wrapping_key=sealed_wrapping_key,
            timestamp=now,
        )
        parameters: ImportParameters = self.import_parameters[parameters_id]
        return parameters

    def import_parameters_for(
        self, import_token: bytes, now: datetime
    ) -> ImportParameters:
        """Return the unused, unexpired parameters ``import_token`` belongs to."""
        self.check_import_allowed()
        return find_import_parameters(
            self.import_parameters, import_token, self.arn, now
        )

    def check_key_material_import(
        self,
        key_material_id: str,
        import_type: str | None,
        requested_key_material_id: str | None,
    ) -> None:
        """Raise the error AWS gives if the key material cannot be imported so."""
        check_import_type(
            key_arn=self.arn,
            key_material_id=key_material_id,
            import_type=import_type,
            requested_key_material_id=requested_key_material_id,
            associated=self.imported_materials,
            pending_key_material_id=self.key_material_pending_rotation,
        )

    def import_key_material(
        self,
        *,
        key_material_id: str,
        sealed_key_material: str,
        parameters: ImportParameters,
        expiration: Expiration,
        import_type: str | None,
        requested_key_material_id: str | None,
        description: str | None,
        now: datetime,
    ) -> None:
        """Install imported key material, checked and unwrapped by the caller.

        The first import makes it the current key material and the key
        Enabled; new key material after that waits for RotateKeyOnDemand.
        """
        self.check_import_allowed()
        if self.import_parameters.get(parameters.parameters_id) != parameters:
            raise KMSInvalidStateException(
                f"The import parameters of {self.arn} changed during the import."
            )
        self.check_key_material_import(
            key_material_id, import_type, requested_key_material_id
        )
        previous = self.imported_materials.get(key_material_id)
        if description is None and previous is not None:
            # ImportKeyMaterial: without a description, KMS keeps the one given
            # when the same key material was last imported.
            description = previous.description
        self.trigger_event(
            self.KeyMaterialImported,
            key_material_id=key_material_id,
            sealed_key_material=sealed_key_material,
            parameters_id=parameters.parameters_id,
            expiration_model=expiration.model.value,
            valid_to=expiration.valid_to,
            description=description,
            timestamp=now,
        )

    def delete_imported_key_material(
        self, key_material_id: str | None, now: datetime
    ) -> str | None:
        """Crypto-shred imported key material: the current one, or the one named.

        Returns the id of the key material deleted, or None when the key has
        none. Key material already deleted or expired is left as it is, as AWS
        does for a key pending import ("No effect"). The key becomes
        PendingImport unless it is pending deletion; key material pending
        rotation is instead removed from the key.
        """
        self.check_exists()
        self._check_external_origin()
        target = key_material_id or self.current_key_material_id
        if target is None:
            return None
        if target not in self.imported_materials:
            raise NotFoundException(
                f"Key material {target} is not associated with {self.arn}."
            )
        if target in self.key_materials:
            self.trigger_event(
                self.ImportedKeyMaterialDeleted, key_material_id=target, timestamp=now
            )
        return target

    def expire_imported_key_material(self, now: datetime) -> list[str]:
        """Crypto-shred the key materials whose ValidTo has come; return their ids.

        Unused import parameters past their 24 hours lose their wrapping key
        at the same time.
        """
        if self.deleted:
            return []
        expired = [
            material.key_material_id
            for material in self.imported_materials.values()
            if material.imported
            and material.valid_to is not None
            and material.valid_to <= now
        ]
        for key_material_id in expired:
            self.trigger_event(
                self.ImportedKeyMaterialExpired,
                key_material_id=key_material_id,
                timestamp=now,
            )
        for parameters in list(self.import_parameters.values()):
            erased = parameters.sealed_wrapping_key is None
            if not erased and parameters.valid_to <= now:
                self.trigger_event(
                    self.ImportParametersExpired,
                    parameters_id=parameters.parameters_id,
                    timestamp=now,
                )
        return expired

    def rotate_to_imported_key_material(self, now: datetime) -> str:
        """RotateKeyOnDemand for origin EXTERNAL: make the key material pending
        rotation current; return its id.

        RotateKeyOnDemand (AWS KMS API reference): the new key material must
        already be imported, in the PENDING_ROTATION state.
        """
        rotation.check_on_demand_rotation(self, now)
        self._check_external_origin()
        pending = self.key_material_pending_rotation
        if pending is None:
            # NOTE: AWS's exception and wording for this case are not confirmed.
            raise KMSInvalidStateException(
                f"{self.arn} has no imported key material pending rotation. Import "
                "new key material with ImportType NEW_KEY_MATERIAL first."
            )
        self.trigger_event(
            self.KeyMaterialRotated,
            key_material_id=pending,
            sealed_key_material=self.key_materials[pending],
            rotation_type=RotationType.ON_DEMAND.value,
            next_rotation_date=self.next_rotation_date,
            timestamp=now,
        )
        return pending

    @property
    def key_material_pending_rotation(self) -> str | None:
        """The imported key material waiting for RotateKeyOnDemand, if any."""
        for key_material_id in self.imported_materials:
            if self.is_pending_rotation(key_material_id):
                return key_material_id
        return None

    def is_pending_rotation(self, key_material_id: str) -> bool:
        """Return whether imported key material is PENDING_ROTATION: imported as new key
        material after the first, and never made current by a rotation."""
        if key_material_id not in self.imported_materials:
            return False
        first = next(iter(self.imported_materials))
        rotated = {rotation.key_material_id for rotation in self.rotations}
        return key_material_id != first and key_material_id not in rotated

    @property
    def imported_expiration(self) -> tuple[ExpirationModel | None, datetime | None]:
        """ExpirationModel and ValidTo of the key, as DescribeKey reports them."""
        return earliest_expiry(
            [
                material
                for material in self.imported_materials.values()
                if not self.is_pending_rotation(material.key_material_id)
            ]
        )

    # Called only by the events' apply methods.

    def refresh_import_state(self) -> None:
        """PendingImport while key material of the key is missing; Enabled once
        all of it is back ("you will need to import all of the key materials
        associated with the KMS key to change its state to Enabled")."""
        if (
            self.origin != ORIGIN_EXTERNAL
            or self.deleted
            or self.state is KeyState.PENDING_DELETION
        ):
            return
        missing = self.current_key_material_id is None or any(
            not material.imported for material in self.imported_materials.values()
        )
        if missing:
            self.state = KeyState.PENDING_IMPORT
        elif self.state is KeyState.PENDING_IMPORT:
            self.state = KeyState.ENABLED

    def remove_imported_material(self, key_material_id: str) -> None:
        self.key_materials.pop(key_material_id, None)
        material = self.imported_materials.get(key_material_id)
        if material is not None:
            if self.is_pending_rotation(key_material_id):
                # Key material pending rotation "is not permanently associated
                # with the KMS key" (ListKeyRotations): it goes entirely.
                del self.imported_materials[key_material_id]
            else:
                self.imported_materials[key_material_id] = replace(
                    material, imported=False
                )
        self.refresh_import_state()

    def spend_import_parameters(self, parameters_id: str, used: bool) -> None:
        """Forget a parameters set's sealed wrapping key, whose sealing key the
        same save erases."""
        parameters = self.import_parameters.get(parameters_id)
        if parameters is not None:
            self.import_parameters[parameters_id] = replace(
                parameters, sealed_wrapping_key=None, used=parameters.used or used
            )
