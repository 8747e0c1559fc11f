"""Therapy groups: who leads them, who belongs, how big and for which age band."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import AgeBand

MAX_GROUP_CAPACITY = 15


class Modality(models.TextChoices):
    GROUP_THERAPY = "group_therapy", "Group therapy"
    PSYCHOEDUCATION = "psychoeducation", "Psychoeducation"
    CBT_SKILLS = "cbt_skills", "CBT skills"
    DBT_SKILLS = "dbt_skills", "DBT skills"
    FAMILY_GROUP = "family_group", "Family group"
    ART = "art", "Art"
    MINDFULNESS = "mindfulness", "Mindfulness"
    YOGA = "yoga", "Yoga"
    MEDICATION_MANAGEMENT = "medication_management", "Medication management"
    OTHER = "other", "Other"


class TherapyGroup(models.Model):
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, related_name="groups")
    title = models.CharField(max_length=200, help_text="Clinical title; never sent outside the system.")
    modality = models.CharField(max_length=32, choices=Modality.choices)
    age_band = models.CharField(max_length=16, choices=AgeBand.choices)
    capacity = models.PositiveSmallIntegerField(default=12)
    lead_facilitator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="led_groups")
    co_facilitators = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="co_led_groups")
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__gte=1) & Q(capacity__lte=MAX_GROUP_CAPACITY), name="group_capacity_1_to_15"
            ),
        ]

    def __str__(self) -> str:
        return f"group #{self.pk}"


class GroupMembership(models.Model):
    group = models.ForeignKey(TherapyGroup, on_delete=models.PROTECT, related_name="memberships")
    participant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "participant"], condition=Q(left_at__isnull=True), name="one_active_membership"
            ),
        ]

    def __str__(self) -> str:
        return f"membership #{self.pk}"
