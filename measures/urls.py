from django.urls import path

from measures import api, schedule_api

urlpatterns = [
    path("instruments/", api.InstrumentListView.as_view(), name="instruments"),
    path("assessments/", api.AssessmentCreateView.as_view(), name="assessments"),
    path("assessments/due/", schedule_api.DueQuestionnairesView.as_view(), name="assessments-due"),
    path("assessments/<int:pk>/note/", api.AssessmentNoteView.as_view(), name="assessment-note"),
    path(
        "participants/<int:pk>/assessments/", api.ParticipantAssessmentsView.as_view(), name="participant-assessments"
    ),
    path("programs/<int:pk>/measures/", api.ProgramMeasuresView.as_view(), name="program-measures"),
    path(
        "programs/<int:pk>/measure-schedule/",
        schedule_api.ProgramMeasureScheduleView.as_view(),
        name="program-measure-schedule",
    ),
    path("alerts/", api.AlertListView.as_view(), name="clinical-alerts"),
    path("alerts/<int:pk>/acknowledge/", api.AlertAcknowledgeView.as_view(), name="clinical-alert-acknowledge"),
    path("sessions/<int:pk>/checkin/", api.SessionCheckInView.as_view(), name="session-checkin"),
]
